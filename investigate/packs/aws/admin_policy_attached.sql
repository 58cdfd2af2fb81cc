-- id: aws-admin-policy-attached
-- title: Administrator policy attached to a user, role or group
-- severity: high
-- mitre: T1098.003, T1078.004
-- tags: cloudtrail, iam, privilege-escalation, persistence
-- dedup: account, target
-- covers: aws.persistence.iam-create-admin-user, aws.persistence.iam-create-backdoor-role
-- scenarios: compromised_access_key
-- description: AttachUserPolicy, AttachRolePolicy or AttachGroupPolicy with AdministratorAccess,
--   IAMFullAccess or PowerUserAccess, or an inline policy allowing every action.
-- source: _investigate.actors
SELECT eventid, eventtime, eventname, recipientaccountid AS account, awsregion AS region,
       arn AS principal, sourceipaddress AS sourceip,
       coalesce(json_extract_scalar(requestparameters, '$.userName'),
                json_extract_scalar(requestparameters, '$.roleName'),
                json_extract_scalar(requestparameters, '$.groupName')) AS target,
       json_extract_scalar(requestparameters, '$.policyArn') AS policy
FROM _investigate.actors
WHERE eventsource = 'iam.amazonaws.com' AND errorcode IS NULL
  AND (
    (eventname IN ('AttachUserPolicy', 'AttachRolePolicy', 'AttachGroupPolicy')
     AND regexp_like(json_extract_scalar(requestparameters, '$.policyArn'),
                     ':policy/(AdministratorAccess|IAMFullAccess|PowerUserAccess)$'))
    OR (eventname IN ('PutUserPolicy', 'PutRolePolicy', 'PutGroupPolicy')
        AND regexp_like(requestparameters, '\\?"Action\\?"\s*:\s*\[?\s*\\?"\*\\?"'))
  )
