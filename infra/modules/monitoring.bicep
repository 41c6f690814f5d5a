// Log Analytics (container logs) and Application Insights (the Functions host's telemetry).

@description('Azure region.')
param location string

param logAnalyticsName string
param applicationInsightsName string
param tags object = {}

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2025-02-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    // Telemetry is sent with the connection string; Entra-only ingestion would need the identity on the exporter.
    DisableLocalAuth: false
  }
}

output logAnalyticsId string = logAnalytics.id
output logAnalyticsName string = logAnalytics.name
// The name only: the apps module reads the connection string itself, so it never leaves a deployment as an output.
output applicationInsightsName string = applicationInsights.name
