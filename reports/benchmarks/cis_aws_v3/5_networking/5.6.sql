/* +++
id = "5.6"
title = "Ensure that EC2 Metadata Service only allows IMDSv2"
severity = "medium"
tags = { cis_v3 = "5.6", level = "1", type = "automated" }
+++ */
SELECT arn AS resource, awsaccountid AS account, awsregion AS region,
       CASE WHEN json_extract_scalar(configuration, '$.metadataOptions.httpTokens') = 'required'
              OR json_extract_scalar(configuration, '$.metadataOptions.httpEndpoint') = 'disabled' THEN 'ok' ELSE 'alarm' END AS status,
       resourceid || ' metadata tokens: ' || coalesce(json_extract_scalar(configuration, '$.metadataOptions.httpTokens'), 'unknown') AS reason
FROM report.config_state WHERE resourcetype = 'AWS::EC2::Instance'
