/* +++
id = "5.1"
title = "Ensure no Network ACLs allow ingress from 0.0.0.0/0 to remote server administration ports"
severity = "high"
tags = { cis_v3 = "5.1", level = "1", type = "automated" }
+++ */
WITH entries AS (
  SELECT s.arn, CAST(json_extract_scalar(e.entry, '$.ruleNumber') AS INTEGER) AS rule,
         json_extract_scalar(e.entry, '$.ruleAction') AS action,
         json_extract_scalar(e.entry, '$.protocol') AS protocol,
         CAST(json_extract_scalar(e.entry, '$.portRange.from') AS INTEGER) AS from_port,
         CAST(json_extract_scalar(e.entry, '$.portRange.to') AS INTEGER) AS to_port,
         coalesce(json_extract_scalar(e.entry, '$.cidrBlock'), json_extract_scalar(e.entry, '$.ipv6CidrBlock')) AS cidr
  FROM report.config_state s
  CROSS JOIN UNNEST(CAST(json_extract(s.configuration, '$.entries') AS ARRAY(JSON))) AS e(entry)
  WHERE s.resourcetype = 'AWS::EC2::NetworkAcl' AND json_extract_scalar(e.entry, '$.egress') = 'false'
),
open AS (
  SELECT arn, array_join(array_sort(array_agg(DISTINCT CAST(p.port AS VARCHAR))), ', ') AS ports
  FROM entries CROSS JOIN UNNEST(ARRAY[22, 3389]) AS p(port)
  WHERE action = 'allow' AND cidr IN ('0.0.0.0/0', '::/0') AND protocol IN ('6', '17', '-1')
    AND (protocol = '-1' OR from_port IS NULL OR p.port BETWEEN from_port AND to_port)
  GROUP BY arn
)
SELECT s.arn AS resource, s.awsaccountid AS account, s.awsregion AS region,
       CASE WHEN o.arn IS NULL THEN 'ok' ELSE 'alarm' END AS status,
       s.resourceid || CASE WHEN o.arn IS NULL THEN ' admits no administration port from anywhere' ELSE ' admits port ' || o.ports || ' from anywhere' END AS reason
FROM report.config_state s LEFT JOIN open o ON o.arn = s.arn
WHERE s.resourcetype = 'AWS::EC2::NetworkAcl'
UNION ALL
SELECT CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), 'skip',
       'AWS::EC2::NetworkAcl is not recorded by AWS Config in this lake'
WHERE NOT EXISTS (SELECT 1 FROM report.config_history WHERE resourcetype = 'AWS::EC2::NetworkAcl')
