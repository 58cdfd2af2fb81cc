-- id: aws-iam-login-profile-or-trust-changed
-- title: Console password set for a user or role trust policy changed
-- severity: medium
-- mitre: T1098, T1098.003
-- tags: cloudtrail, iam, persistence
-- dedup: account, eventname, target
-- covers: aws.persistence.iam-create-user-login-profile, aws.privilege-escalation.iam-update-user-login-profile,
--   aws.persistence.iam-backdoor-role
-- source: _investigate.actors
SELECT eventid, eventtime, eventname, recipientaccountid AS account, awsregion AS region,
       arn AS principal, sourceipaddress AS sourceip,
       coalesce(json_extract_scalar(requestparameters, '$.userName'),
                json_extract_scalar(requestparameters, '$.roleName')) AS target
FROM _investigate.actors
WHERE eventsource = 'iam.amazonaws.com' AND errorcode IS NULL
  AND eventname IN ('CreateLoginProfile', 'UpdateLoginProfile', 'UpdateAssumeRolePolicy')
