"""Roster area: students of the counselor's schools and the head teacher's class."""
