"""loglake: Athena-style SQL, a Glue-style catalog and CloudWatch-style alarms for AWS logs."""
