/* +++
id = "2.3.3"
title = "Ensure that public access is not given to RDS Instance"
severity = "high"
tags = { cis_v3 = "2.3.3", level = "1", type = "automated" }
+++ */
SELECT arn AS resource, awsaccountid AS account, awsregion AS region,
       CASE WHEN coalesce(json_extract_scalar(configuration, '$.publiclyAccessible'), 'false') = 'false' THEN 'ok' ELSE 'alarm' END AS status,
       resourceid || CASE WHEN coalesce(json_extract_scalar(configuration, '$.publiclyAccessible'), 'false') = 'false' THEN ' is not publicly accessible' ELSE ' is publicly accessible' END AS reason
FROM report.config_state WHERE resourcetype = 'AWS::RDS::DBInstance'
UNION ALL
SELECT CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), 'skip',
       'AWS::RDS::DBInstance is not recorded by AWS Config in this lake'
WHERE NOT EXISTS (SELECT 1 FROM report.config_history WHERE resourcetype = 'AWS::RDS::DBInstance')
