-- id: aws-kms-key-disabled-or-scheduled-for-deletion
-- title: KMS key disabled or scheduled for deletion
-- severity: high
-- mitre: T1485, T1486
-- tags: cloudtrail, kms, impact
-- dedup: account, key_id
-- scenarios: kms_key_deletion
-- source: _investigate.actors
SELECT eventid, eventtime, eventname, recipientaccountid AS account, awsregion AS region,
       arn AS principal, sourceipaddress AS sourceip,
       json_extract_scalar(requestparameters, '$.keyId') AS key_id,
       json_extract_scalar(requestparameters, '$.pendingWindowInDays') AS pending_days
FROM _investigate.actors
WHERE eventsource = 'kms.amazonaws.com' AND eventname IN ('DisableKey', 'ScheduleKeyDeletion')
