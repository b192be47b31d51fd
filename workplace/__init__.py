"""The Social Media Center's workplace in the browser (issue #18), served by `smc serve`:

- /login, /inbox (open opinions oldest first, filters, bulk assign), /opinions/ID (the thread,
  history and actions), /public (the public results page, no login), Datasette for analysts
  behind the same login: Datasette plugin routes in the one process (workplace/app.py says
  why), its hooks in workplace/plugin.py;
- auth.py: argon2 hashes, server-side sessions, throttled failed logins;
- actions.py: who may do what from which status; every action one case_events row with the
  logged-in person;
- public.py: the public page and `publish --out DIR` (a static site);
- its commands, `user add|passwd|disable|enable|list` and `publish`, are commands/workplace.py.
SQL lives in store/ (users.py, workplace_queries.py, cases.py); deadlines on the working-time
clock in core/worktime.py (config/workplace.yaml).
"""
