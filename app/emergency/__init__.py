"""Emergency access (break the glass): one student's file for a limited time, announced and reviewed."""
