-- id: aws-security-group-world-rule-revoked
-- title: Security group rule open to the internet revoked (exposure window ends)
-- severity: info
-- mitre: T1562.007
-- tags: cloudtrail, ec2, network, remediation
-- dedup: account, group_id
-- scenarios: security_group_open_ssh
-- source: _investigate.actors
SELECT eventid, eventtime, eventname, recipientaccountid AS account, awsregion AS region,
       arn AS principal, sourceipaddress AS sourceip,
       json_extract_scalar(requestparameters, '$.groupId') AS group_id
FROM _investigate.actors
WHERE eventsource = 'ec2.amazonaws.com' AND eventname = 'RevokeSecurityGroupIngress'
  AND errorcode IS NULL
  AND regexp_like(requestparameters, '"cidrIp(v6)?"\s*:\s*"[0-9A-Fa-f:.]*/0"')
