"""Checks the swagger file cannot express: manifest bodies against the image-spec rules."""
