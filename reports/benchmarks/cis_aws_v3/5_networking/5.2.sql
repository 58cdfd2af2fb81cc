/* +++
id = "5.2"
title = "Ensure no security groups allow ingress from 0.0.0.0/0 to remote server administration ports"
severity = "high"
tags = { cis_v3 = "5.2", level = "1", type = "automated" }
+++ */
WITH rules AS (
  SELECT s.arn, s.awsaccountid, s.awsregion, s.resourcename,
         json_extract_scalar(p.perm, '$.ipProtocol') AS protocol,
         CAST(json_extract_scalar(p.perm, '$.fromPort') AS INTEGER) AS from_port,
         CAST(json_extract_scalar(p.perm, '$.toPort') AS INTEGER) AS to_port,
         json_array_contains(json_extract(p.perm, '$.ipRanges'), '0.0.0.0/0') AS world4,
         strpos(coalesce(json_format(json_extract(p.perm, '$.ipv6Ranges')), ''), '"::/0"') > 0 AS world6
  FROM report.config_state s
  CROSS JOIN UNNEST(CAST(json_extract(s.configuration, '$.ipPermissions') AS ARRAY(JSON))) AS p(perm)
  WHERE s.resourcetype = 'AWS::EC2::SecurityGroup'
),
exposed AS (
  SELECT r.arn, array_join(array_sort(array_agg(DISTINCT CAST(a.port AS VARCHAR))), ', ') AS ports
  FROM rules r CROSS JOIN UNNEST(ARRAY[22, 3389]) AS a(port)
  WHERE r.world4 AND r.protocol IN ('tcp', 'udp', '-1')
    AND (r.protocol = '-1' OR a.port BETWEEN r.from_port AND r.to_port)
  GROUP BY r.arn
)
SELECT s.arn AS resource, s.awsaccountid AS account, s.awsregion AS region,
       CASE WHEN e.arn IS NULL THEN 'ok' ELSE 'alarm' END AS status,
       CASE WHEN e.arn IS NULL THEN s.resourcename || ' opens none of ports 22, 3389 to 0.0.0.0/0'
            ELSE s.resourcename || ' opens port ' || e.ports || ' to 0.0.0.0/0' END AS reason,
       s.resourcename AS group_name, e.ports AS open_ports
FROM report.config_state s LEFT JOIN exposed e ON e.arn = s.arn
WHERE s.resourcetype = 'AWS::EC2::SecurityGroup'
