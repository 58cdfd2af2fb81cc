"""Example queries from AWS's documentation and blogs, as published (only the dates and names of
the examples' own data are filled in): Athena's "Querying AWS CloudTrail logs", "Querying Amazon
VPC flow logs" and "Querying AWS Config" pages, and the security-analytics examples AWS publishes
for them. They use the guides' table names, which the views of the ``athena`` database carry
(``TABLES``: guide name -> the view, and the ingested table or view under it)."""

from __future__ import annotations

TABLES = {
    "cloudtrail_logs": "aws.cloudtrail",
    "vpc_flow_logs": "aws.vpc_flow_logs",
    "aws_config_configuration_snapshot": "aws.aws_config_configuration_snapshot",
}

#: (name, query) in the guides' words
QUERIES: list[tuple[str, str]] = [
    # --------------------------------------------------------------- CloudTrail
    (
        "ct_recent_activity",
        """
SELECT useridentity.arn, eventname, sourceipaddress, eventtime
FROM cloudtrail_logs
LIMIT 100""",
    ),
    (
        "ct_root_activity",
        """
SELECT eventtime, eventname, sourceipaddress, useragent
FROM cloudtrail_logs
WHERE useridentity.type = 'Root'
  AND useridentity.invokedby IS NULL
  AND eventtype <> 'AwsServiceEvent'
ORDER BY eventtime""",
    ),
    (
        "ct_top_errors",
        """
SELECT eventsource, eventname, errorcode, count(*) AS total
FROM cloudtrail_logs
WHERE errorcode IS NOT NULL
GROUP BY eventsource, eventname, errorcode
ORDER BY total DESC, eventname
LIMIT 10""",
    ),
    (
        "ct_access_denied",
        """
SELECT useridentity.arn, eventsource, eventname, errorcode, errormessage
FROM cloudtrail_logs
WHERE errorcode IN ('AccessDenied', 'Client.UnauthorizedOperation', 'UnauthorizedOperation')""",
    ),
    (
        "ct_console_login_without_mfa",
        """
SELECT useridentity.username, sourceipaddress, eventtime, additionaleventdata
FROM cloudtrail_logs
WHERE eventname = 'ConsoleLogin'
  AND json_extract_scalar(additionaleventdata, '$.MFAUsed') = 'No'""",
    ),
    (
        "ct_console_login_failures",
        """
SELECT useridentity.username, sourceipaddress, eventtime, errormessage
FROM cloudtrail_logs
WHERE eventname = 'ConsoleLogin'
  AND json_extract_scalar(responseelements, '$.ConsoleLogin') = 'Failure'""",
    ),
    (
        "ct_time_window_text",
        """
SELECT eventname, count(*) AS total
FROM cloudtrail_logs
WHERE eventtime >= '2024-05-06T06:00:00Z' AND eventtime < '2024-05-06T12:00:00Z'
GROUP BY eventname""",
    ),
    (
        "ct_time_window_timestamp",
        """
SELECT count(*) AS total
FROM cloudtrail_logs
WHERE from_iso8601_timestamp(eventtime) > from_iso8601_timestamp('2024-05-06T12:00:00Z')""",
    ),
    (
        "ct_calls_per_principal",
        """
SELECT useridentity.arn, count(*) AS calls
FROM cloudtrail_logs
GROUP BY useridentity.arn
ORDER BY calls DESC, useridentity.arn
LIMIT 10""",
    ),
    (
        "ct_s3_bucket_requests",
        """
SELECT json_extract_scalar(requestparameters, '$.bucketName') AS bucket, count(*) AS requests
FROM cloudtrail_logs
WHERE eventsource = 's3.amazonaws.com'
GROUP BY 1""",
    ),
    (
        "ct_resources_unnested",
        """
SELECT eventname, resource.arn, resource.type
FROM cloudtrail_logs
CROSS JOIN UNNEST(resources) AS t(resource)""",
    ),
    (
        "ct_iam_changes",
        """
SELECT eventtime, useridentity.arn, eventname, requestparameters
FROM cloudtrail_logs
WHERE eventsource = 'iam.amazonaws.com'
  AND eventname IN ('CreateUser', 'CreateAccessKey', 'AttachUserPolicy', 'PutUserPolicy',
                    'AttachRolePolicy', 'CreateLoginProfile', 'UpdateAssumeRolePolicy')""",
    ),
    (
        "ct_security_group_changes",
        """
SELECT eventtime, useridentity.arn, eventname,
       json_extract_scalar(requestparameters, '$.groupId') AS groupid
FROM cloudtrail_logs
WHERE eventname IN ('AuthorizeSecurityGroupIngress', 'AuthorizeSecurityGroupEgress',
                    'RevokeSecurityGroupIngress', 'RevokeSecurityGroupEgress',
                    'CreateSecurityGroup', 'DeleteSecurityGroup')""",
    ),
    (
        "ct_logging_tampering",
        """
SELECT eventtime, useridentity.arn, eventname, sourceipaddress
FROM cloudtrail_logs
WHERE eventname IN ('StopLogging', 'DeleteTrail', 'UpdateTrail', 'PutEventSelectors')""",
    ),
    (
        "ct_assumed_role_issuers",
        """
SELECT useridentity.sessioncontext.sessionissuer.arn AS role, count(*) AS calls
FROM cloudtrail_logs
WHERE useridentity.type = 'AssumedRole'
GROUP BY useridentity.sessioncontext.sessionissuer.arn""",
    ),
    (
        "ct_public_source_addresses",
        """
SELECT sourceipaddress, count(*) AS calls
FROM cloudtrail_logs
WHERE regexp_like(sourceipaddress, '^[0-9.]+$')
  AND NOT (CAST(sourceipaddress AS IPADDRESS) BETWEEN IPADDRESS '10.0.0.0' AND IPADDRESS '10.255.255.255'
        OR CAST(sourceipaddress AS IPADDRESS) BETWEEN IPADDRESS '172.16.0.0' AND IPADDRESS '172.31.255.255'
        OR CAST(sourceipaddress AS IPADDRESS) BETWEEN IPADDRESS '192.168.0.0' AND IPADDRESS '192.168.255.255')
GROUP BY sourceipaddress""",
    ),
    (
        "ct_events_per_hour",
        """
SELECT date_trunc('hour', from_iso8601_timestamp(eventtime)) AS hour, count(*) AS events
FROM cloudtrail_logs
GROUP BY 1
ORDER BY 1""",
    ),
    (
        "ct_read_write",
        """
SELECT readonly, count(*) AS events
FROM cloudtrail_logs
GROUP BY readonly""",
    ),
    (
        "ct_kms_key_deletion",
        """
SELECT eventtime, useridentity.arn, json_extract_scalar(requestparameters, '$.keyId') AS keyid
FROM cloudtrail_logs
WHERE eventsource = 'kms.amazonaws.com' AND eventname IN ('ScheduleKeyDeletion', 'DisableKey')""",
    ),
    (
        "ct_user_agents",
        """
SELECT useragent, count(*) AS calls
FROM cloudtrail_logs
GROUP BY useragent
ORDER BY calls DESC, useragent
LIMIT 10""",
    ),
    # --------------------------------------------------------------- VPC flow logs
    (
        "vpc_rejected_tcp",
        """
SELECT day_of_week(date) AS day, date, interface_id, srcaddr, action, protocol
FROM vpc_flow_logs
WHERE action = 'REJECT' AND protocol = 6
LIMIT 100""",
    ),
    (
        "vpc_https_top_servers",
        """
SELECT SUM(packets) AS packetcount, dstaddr
FROM vpc_flow_logs
WHERE dstport = 443 AND date > DATE '2024-05-01'
GROUP BY dstaddr
ORDER BY packetcount DESC
LIMIT 10""",
    ),
    (
        "vpc_rejected_count",
        """
SELECT COUNT(*) AS rejected
FROM vpc_flow_logs
WHERE action = 'REJECT'""",
    ),
    (
        "vpc_top_talkers",
        """
SELECT srcaddr, dstaddr, sum(bytes) AS total_bytes
FROM vpc_flow_logs
WHERE log_status = 'OK'
GROUP BY srcaddr, dstaddr
ORDER BY total_bytes DESC, srcaddr, dstaddr
LIMIT 10""",
    ),
    (
        "vpc_ssh_rdp_probes",
        """
SELECT srcaddr, count(*) AS attempts
FROM vpc_flow_logs
WHERE dstport IN (22, 3389) AND action = 'REJECT'
GROUP BY srcaddr""",
    ),
    # --------------------------------------------------------------- AWS Config
    (
        "config_resource_counts",
        """
SELECT configurationItem.resourceType, count(*) AS NumberOfResources
FROM aws_config_configuration_snapshot
CROSS JOIN UNNEST(configurationitems) AS t(configurationItem)
GROUP BY configurationItem.resourceType
ORDER BY NumberOfResources DESC, configurationItem.resourceType""",
    ),
    (
        "config_instance_types",
        """
SELECT configurationItem.resourceId AS InstanceId,
       configurationItem.configuration.instancetype AS InstanceType
FROM aws_config_configuration_snapshot
CROSS JOIN UNNEST(configurationitems) AS t(configurationItem)
WHERE configurationItem.resourceType = 'AWS::EC2::Instance'""",
    ),
    (
        "config_snapshot_files",
        """
SELECT "$path" AS file, cardinality(configurationitems) AS items
FROM aws_config_configuration_snapshot
WHERE "$path" LIKE '%ConfigSnapshot%'""",
    ),
]
