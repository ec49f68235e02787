"""Everything written for people: console tables, HTML, Excel, CSV, JSON, PNG."""
