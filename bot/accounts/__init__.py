"""Named staff accounts: passwords, log-in lockout, server-side sessions, least privilege.

The rules follow what 等保 2.0 level 3 asks of a government system's log-in;
the web edge (``bot.web.console.login``, ``bot.web.console.accounts``) and the CLI
(``bot.cli.users``) only call into here.
"""
