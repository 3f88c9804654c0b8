"""Admin area: schools, classes, users and their scope (setup only; no clinical content), and the admin CLI."""
