"""wbtrace analysis: results schema, A/B comparison, regression gate, flame graphs, reports.

Run as `/usr/bin/python3 -m analysis <subcommand> --help` (or `./wbtrace <subcommand>`)."""
