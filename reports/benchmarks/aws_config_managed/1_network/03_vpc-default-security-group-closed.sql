/* +++
id = "vpc-default-security-group-closed"
title = "The default security group of every VPC allows no traffic"
severity = "medium"
tags = { identifier = "VPC_DEFAULT_SECURITY_GROUP_CLOSED" }
+++ */
SELECT arn AS resource, awsaccountid AS account, awsregion AS region,
       CASE WHEN coalesce(json_array_length(json_extract(configuration, '$.ipPermissions')), 0) = 0
             AND coalesce(json_array_length(json_extract(configuration, '$.ipPermissionsEgress')), 0) = 0 THEN 'ok' ELSE 'alarm' END AS status,
       'default group of ' || json_extract_scalar(configuration, '$.vpcId') || ' has '
         || CAST(coalesce(json_array_length(json_extract(configuration, '$.ipPermissions')), 0) AS VARCHAR) || ' inbound and '
         || CAST(coalesce(json_array_length(json_extract(configuration, '$.ipPermissionsEgress')), 0) AS VARCHAR) || ' outbound rules' AS reason
FROM report.config_state
WHERE resourcetype = 'AWS::EC2::SecurityGroup' AND resourcename = 'default'
