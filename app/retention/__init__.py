"""Retention: files of students who left are listed when their period runs out, then erased or held."""
