// implemented by the parsers work; placeholder so the target links
