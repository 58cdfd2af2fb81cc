-- id: aws-root-account-usage
-- title: Root user signed in or called AWS
-- severity: high
-- mitre: T1078.004
-- tags: cloudtrail, iam, root, initial-access
-- dedup: account, sourceip
-- scenarios: root_console_login
-- source: _investigate.actors
-- description: The root user should not be used day to day; any sign-in or call by it (not an
--   AWS service acting for it) deserves a look.
SELECT eventid, eventtime, eventname, recipientaccountid AS account, awsregion AS region,
       arn AS principal, sourceipaddress AS sourceip, useragent
FROM _investigate.actors
WHERE identity_type = 'Root'
  AND invokedby IS NULL
  AND eventtype <> 'AwsServiceEvent'
