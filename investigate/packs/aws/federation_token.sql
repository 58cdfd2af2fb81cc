-- id: aws-sts-federation-token
-- title: Federation token issued to an IAM user (long-lived session that survives key deletion)
-- severity: medium
-- mitre: T1550.001, T1078.004
-- tags: cloudtrail, sts, persistence
-- dedup: principal
-- covers: aws.persistence.sts-federation-token
-- source: _investigate.actors
SELECT eventid, eventtime, eventname, recipientaccountid AS account, awsregion AS region,
       arn AS principal, sourceipaddress AS sourceip,
       json_extract_scalar(requestparameters, '$.name') AS federated_name
FROM _investigate.actors
WHERE eventsource = 'sts.amazonaws.com' AND eventname = 'GetFederationToken' AND errorcode IS NULL
