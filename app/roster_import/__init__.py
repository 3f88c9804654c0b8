"""Roster import (XLSX/CSV from the national student-records system, as schools edit them) and roster export."""
