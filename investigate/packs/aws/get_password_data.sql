-- id: aws-ec2-get-password-data
-- title: Windows administrator password of an instance retrieved
-- severity: medium
-- mitre: T1552.005
-- tags: cloudtrail, ec2, credential-access
-- dedup: principal, sourceip
-- covers: aws.credential-access.ec2-get-password-data
-- source: _investigate.actors
SELECT eventid, eventtime, eventname, recipientaccountid AS account, awsregion AS region,
       arn AS principal, sourceipaddress AS sourceip, errorcode
FROM _investigate.actors
WHERE eventsource = 'ec2.amazonaws.com' AND eventname = 'GetPasswordData'
