-- id: aws-cloudtrail-logging-restarted
-- title: CloudTrail logging started again (events may be missing before it)
-- severity: info
-- mitre: T1562.008
-- tags: cloudtrail, defense-evasion, remediation
-- dedup: account, trail
-- scenarios: cloudtrail_tampering
-- description: StartLogging follows a stop; the gap before it holds no events, and whoever
--   stopped the trail may have acted meanwhile.
-- source: _investigate.actors
SELECT eventid, eventtime, eventname, recipientaccountid AS account, awsregion AS region,
       arn AS principal, sourceipaddress AS sourceip,
       json_extract_scalar(requestparameters, '$.name') AS trail
FROM _investigate.actors
WHERE eventsource = 'cloudtrail.amazonaws.com' AND eventname = 'StartLogging'
