"""Staff accounts: admins manage everything, operators read calls, reports and logs."""
