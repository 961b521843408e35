"""What a person reads: the HTML report and its charts, the tables every output is built from, the
notification messages, and the terminal rendering the CLI and the demo share."""
