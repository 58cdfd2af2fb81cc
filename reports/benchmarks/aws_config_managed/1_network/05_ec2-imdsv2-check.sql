/* +++
id = "ec2-imdsv2-check"
title = "Instances require IMDSv2 session tokens"
severity = "medium"
tags = { identifier = "EC2_IMDSV2_CHECK" }
+++ */
SELECT arn AS resource, awsaccountid AS account, awsregion AS region,
       CASE WHEN json_extract_scalar(configuration, '$.metadataOptions.httpTokens') = 'required'
              OR json_extract_scalar(configuration, '$.metadataOptions.httpEndpoint') = 'disabled' THEN 'ok' ELSE 'alarm' END AS status,
       resourceid || ' metadata tokens: ' || coalesce(json_extract_scalar(configuration, '$.metadataOptions.httpTokens'), 'unknown') AS reason
FROM report.config_state WHERE resourcetype = 'AWS::EC2::Instance'
