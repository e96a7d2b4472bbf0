"""Comments: schemas, markup, threading, service and public views."""
