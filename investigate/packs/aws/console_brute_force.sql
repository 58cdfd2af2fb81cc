-- id: aws-console-brute-force
-- title: Burst of failed console sign-ins from one address
-- severity: high
-- mitre: T1110.001, T1110.003
-- tags: cloudtrail, signin, credential-access
-- dedup: account, sourceip
-- window: 10m
-- scenarios: console_brute_force
-- description: Ten or more failed console sign-ins from one address within ten minutes of each
--   other (user names CloudTrail hides included).
-- source: _investigate.actors
WITH failures AS (
  SELECT eventid, eventtime, from_iso8601_timestamp(eventtime) AS t, eventname,
         recipientaccountid, awsregion, arn AS principal,
         username AS username, sourceipaddress
  FROM _investigate.actors
  WHERE eventname = 'ConsoleLogin' AND errormessage = 'Failed authentication'
)
SELECT a.eventid, a.eventtime, a.eventname, a.recipientaccountid AS account,
       a.awsregion AS region, a.principal, a.username, a.sourceipaddress AS sourceip,
       count(*) AS failures_within_10m
FROM failures a
JOIN failures b
  ON a.sourceipaddress = b.sourceipaddress AND a.recipientaccountid = b.recipientaccountid
 AND b.t BETWEEN a.t - INTERVAL '10' MINUTE AND a.t + INTERVAL '10' MINUTE
GROUP BY a.eventid, a.eventtime, a.eventname, a.recipientaccountid, a.awsregion, a.principal,
         a.username, a.sourceipaddress
HAVING count(*) >= 10
