"""One module per wire format: parse a request, build answers, streams and error bodies."""
