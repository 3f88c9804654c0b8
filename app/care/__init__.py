"""Care (issue 6): confirmed warning levels, care cases, care groups, the counselor's worklist and the head
teacher's class care list. Writes live in `service`, reads (lists, scope) in `queries`."""
