/* +++
id = "2.3.2"
title = "Ensure Auto Minor Version Upgrade feature is Enabled for RDS Instances"
severity = "low"
tags = { cis_v3 = "2.3.2", level = "1", type = "automated" }
+++ */
SELECT arn AS resource, awsaccountid AS account, awsregion AS region,
       CASE WHEN json_extract_scalar(configuration, '$.autoMinorVersionUpgrade') = 'true' THEN 'ok' ELSE 'alarm' END AS status,
       resourceid || CASE WHEN json_extract_scalar(configuration, '$.autoMinorVersionUpgrade') = 'true' THEN ' upgrades minor versions automatically' ELSE ' does not upgrade minor versions automatically' END AS reason
FROM report.config_state WHERE resourcetype = 'AWS::RDS::DBInstance'
UNION ALL
SELECT CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), 'skip',
       'AWS::RDS::DBInstance is not recorded by AWS Config in this lake'
WHERE NOT EXISTS (SELECT 1 FROM report.config_history WHERE resourcetype = 'AWS::RDS::DBInstance')
