/* +++
id = "vpc-flow-logs-enabled"
title = "Every VPC has an active flow log"
severity = "medium"
tags = { identifier = "VPC_FLOW_LOGS_ENABLED" }
+++ */
WITH logs AS (
  SELECT json_extract_scalar(configuration, '$.resourceId') AS vpc,
         array_join(array_sort(array_agg(resourceid)), ', ') AS flow_logs
  FROM report.config_state
  WHERE resourcetype = 'AWS::EC2::FlowLog' AND coalesce(json_extract_scalar(configuration, '$.flowLogStatus'), 'ACTIVE') = 'ACTIVE'
  GROUP BY 1
)
SELECT v.arn AS resource, v.awsaccountid AS account, v.awsregion AS region,
       CASE WHEN l.vpc IS NULL THEN 'alarm' ELSE 'ok' END AS status,
       v.resourceid || CASE WHEN l.vpc IS NULL THEN ' has no active flow log' ELSE ' is logged by ' || l.flow_logs END AS reason
FROM report.config_state v LEFT JOIN logs l ON l.vpc = v.resourceid
WHERE v.resourcetype = 'AWS::EC2::VPC'
UNION ALL
SELECT CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), 'skip',
       'AWS::EC2::FlowLog is not recorded by AWS Config in this lake'
WHERE NOT EXISTS (SELECT 1 FROM report.config_history WHERE resourcetype = 'AWS::EC2::FlowLog')
