"""Reader identity: publisher single sign-on, reader sessions, profiles and the reader's own data."""
