-- id: aws-security-group-open-to-world
-- title: Security group rule opened to the whole internet (any address with prefix /0)
-- severity: high
-- mitre: T1562.007, T1190
-- tags: cloudtrail, ec2, network, exposure
-- dedup: account, group_id
-- covers: aws.exfiltration.ec2-security-group-open-port-22-ingress
-- scenarios: security_group_open_ssh
-- source: _investigate.actors
SELECT eventid, eventtime, eventname, recipientaccountid AS account, awsregion AS region,
       arn AS principal, sourceipaddress AS sourceip,
       json_extract_scalar(requestparameters, '$.groupId') AS group_id, requestparameters
FROM _investigate.actors
WHERE eventsource = 'ec2.amazonaws.com'
  AND eventname IN ('AuthorizeSecurityGroupIngress', 'ModifySecurityGroupRules')
  AND errorcode IS NULL
  AND regexp_like(requestparameters, '"cidrIp(v6)?"\s*:\s*"[0-9A-Fa-f:.]*/0"')
