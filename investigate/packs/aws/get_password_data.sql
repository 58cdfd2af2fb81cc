-- id: aws-ec2-get-password-data
-- title: Windows administrator password of an instance retrieved
-- severity: medium
-- mitre: T1552.005
-- tags: cloudtrail, ec2, credential-access
-- dedup: principal, sourceip
-- covers: aws.credential-access.ec2-get-password-data
SELECT eventid, eventtime, eventname, recipientaccountid AS account, awsregion AS region,
       useridentity.arn AS principal, sourceipaddress AS sourceip, errorcode,
       json_extract_scalar(requestparameters, '$.instanceId') AS instance_id
FROM cloudtrail
WHERE eventsource = 'ec2.amazonaws.com' AND eventname = 'GetPasswordData'
