/* +++
id = "1.20"
title = "Ensure that IAM Access analyzer is enabled for all regions"
severity = "low"
tags = { cis_v3 = "1.20", level = "1", type = "automated" }
+++ */
SELECT r.awsaccountid || '/' || r.awsregion AS resource, r.awsaccountid AS account, r.awsregion AS region,
       CASE WHEN count(a.arn) = 0 THEN 'alarm' ELSE 'ok' END AS status,
       CAST(count(a.arn) AS VARCHAR) || ' analyzer(s) in the region' AS reason
FROM (SELECT DISTINCT awsaccountid, awsregion FROM report.config_state WHERE awsregion <> 'global') r
LEFT JOIN report.config_state a ON a.resourcetype = 'AWS::AccessAnalyzer::Analyzer'
  AND a.awsaccountid = r.awsaccountid AND a.awsregion = r.awsregion
WHERE EXISTS (SELECT 1 FROM report.config_history WHERE resourcetype = 'AWS::AccessAnalyzer::Analyzer')
GROUP BY r.awsaccountid, r.awsregion
UNION ALL
SELECT CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), 'skip',
       'AWS::AccessAnalyzer::Analyzer is not recorded by AWS Config in this lake'
WHERE NOT EXISTS (SELECT 1 FROM report.config_history WHERE resourcetype = 'AWS::AccessAnalyzer::Analyzer')
