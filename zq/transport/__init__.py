"""Sockets with their options, framing and endpoints. Everything that touches pyzmq lives here."""
