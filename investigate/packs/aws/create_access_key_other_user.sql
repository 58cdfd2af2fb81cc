-- id: aws-create-access-key-for-another-user
-- title: Access key created for another IAM user
-- severity: high
-- mitre: T1098.001
-- tags: cloudtrail, iam, persistence
-- dedup: account, target_user
-- covers: aws.persistence.iam-backdoor-user, aws.persistence.iam-create-admin-user
-- scenarios: compromised_access_key
-- source: _investigate.actors
SELECT eventid, eventtime, eventname, recipientaccountid AS account, awsregion AS region,
       arn AS principal, sourceipaddress AS sourceip,
       json_extract_scalar(requestparameters, '$.userName') AS target_user,
       json_extract_scalar(responseelements, '$.accessKey.accessKeyId') AS new_access_key
FROM _investigate.actors
WHERE eventsource = 'iam.amazonaws.com' AND eventname = 'CreateAccessKey'
  AND errorcode IS NULL
  AND json_extract_scalar(requestparameters, '$.userName') IS NOT NULL
  AND (identity_type <> 'IAMUser'
       OR json_extract_scalar(requestparameters, '$.userName') <> username)
