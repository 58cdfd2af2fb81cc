-- id: aws-console-login-without-mfa
-- title: Console sign-in without MFA
-- severity: medium
-- mitre: T1078.004
-- tags: cloudtrail, signin, initial-access
-- dedup: principal, sourceip
-- covers: aws.initial-access.console-login-without-mfa
-- scenarios: root_console_login
-- source: _investigate.actors
SELECT eventid, eventtime, eventname, recipientaccountid AS account, awsregion AS region,
       arn AS principal, sourceipaddress AS sourceip, useragent
FROM _investigate.actors
WHERE eventname = 'ConsoleLogin'
  AND json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Success'
  AND json_extract_scalar(additionaleventdata, '$.MFAUsed') = 'No'
  AND coalesce(identity_type, '') NOT IN ('AssumedRole', 'FederatedUser')
