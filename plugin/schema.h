/* The SQL migrations in schema/, embedded at build time; migration i
 * (0-based) takes the database to user_version i + 1. */
#ifndef OTA_SCHEMA_H
#define OTA_SCHEMA_H

extern const char *const ota_schema_migrations[];
extern const int ota_schema_migration_count;

#endif
