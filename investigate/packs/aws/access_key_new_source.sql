-- id: aws-access-key-used-from-new-address
-- title: Long-term access key used from an address it never used before
-- severity: high
-- mitre: T1078.004
-- tags: cloudtrail, iam, initial-access, first-seen
-- dedup: access_key, sourceip
-- source: _investigate.actors
-- lookback: 31d
-- entity: accesskeyid
-- history: accesskeyid, sourceipaddress
-- scenarios: compromised_access_key
-- description: Calls made with an IAM user's access key (AKIA...) from a source address not seen
--   for that key in the 30 days before, for a key with at least a day of history; every call of
--   the first day from the new address is reported.
WITH uses AS (
  SELECT eventid, eventtime, from_iso8601_timestamp(eventtime) AS t, eventname,
         recipientaccountid, awsregion, arn AS principal, accesskeyid AS access_key,
         sourceipaddress, useragent
  FROM _investigate.actors
  WHERE accesskeyid LIKE 'AKIA%'
),
addresses AS (
  SELECT access_key, sourceipaddress, min(t) AS first_from_address
  FROM uses GROUP BY access_key, sourceipaddress
),
keys AS (SELECT access_key, min(t) AS first_use FROM uses GROUP BY access_key)
SELECT u.eventid, u.eventtime, u.eventname, u.recipientaccountid AS account,
       u.awsregion AS region, u.principal, u.access_key, u.sourceipaddress AS sourceip,
       u.useragent, a.first_from_address
FROM uses u
JOIN addresses a ON u.access_key = a.access_key AND u.sourceipaddress = a.sourceipaddress
JOIN keys k ON u.access_key = k.access_key
WHERE a.first_from_address >= k.first_use + INTERVAL '1' DAY
  AND u.t < a.first_from_address + INTERVAL '1' DAY
