"""Residents' 留言: the rules for recording, listing and answering them."""
