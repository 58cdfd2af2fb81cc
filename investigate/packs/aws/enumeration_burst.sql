-- id: aws-enumeration-burst
-- title: One identity enumerating many services from one address within minutes
-- severity: medium
-- mitre: T1087.004, T1580, T1526
-- tags: cloudtrail, discovery
-- dedup: principal, sourceip
-- source: _investigate.actors
-- window: 20m
-- scenarios: compromised_access_key
-- description: Read-only List, Describe and Get calls to eight or more services from one identity
--   and address within two consecutive ten-minute periods, denied in at least two of them: the
--   footprint of an intruder finding out what a credential can do. (On ten million generated
--   events, no baseline identity had denials in two services within such a window.)
WITH reads AS (
  SELECT eventid, eventtime, eventname, eventsource, recipientaccountid, awsregion,
         arn AS principal, sourceipaddress,
         CAST(to_unixtime(from_iso8601_timestamp(eventtime)) AS bigint) / 600 AS period,
         CASE WHEN errorcode LIKE '%AccessDenied%' OR errorcode LIKE '%UnauthorizedOperation%'
              THEN 1 ELSE 0 END AS denied
  FROM _investigate.actors
  WHERE regexp_like(eventname, '^(List|Describe|Get)')
    AND eventcategory = 'Management'
    AND arn IS NOT NULL
),
per_service AS (
  SELECT principal, sourceipaddress, period, eventsource, sum(denied) AS denied
  FROM reads GROUP BY principal, sourceipaddress, period, eventsource
),
bursts AS (
  SELECT p.principal, p.sourceipaddress, p.period, count(DISTINCT s.eventsource) AS services,
         count(DISTINCT CASE WHEN s.denied > 0 THEN s.eventsource END) AS denied
  FROM (SELECT DISTINCT principal, sourceipaddress, period FROM per_service) p
  JOIN per_service s
    ON s.principal = p.principal AND s.sourceipaddress = p.sourceipaddress
   AND s.period BETWEEN p.period AND p.period + 1
  GROUP BY p.principal, p.sourceipaddress, p.period
  HAVING count(DISTINCT s.eventsource) >= 8
     AND count(DISTINCT CASE WHEN s.denied > 0 THEN s.eventsource END) >= 2
)
SELECT r.eventid, r.eventtime, r.eventname, r.recipientaccountid AS account,
       r.awsregion AS region, r.principal, r.sourceipaddress AS sourceip, b.services, b.denied AS denied_services
FROM reads r
JOIN bursts b
  ON r.principal = b.principal AND r.sourceipaddress = b.sourceipaddress
 AND r.period BETWEEN b.period AND b.period + 1
