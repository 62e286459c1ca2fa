"""Marathon's `/v2` REST API, in the JSON shape of Marathon 1.6–1.8."""
