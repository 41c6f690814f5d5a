// The model share: an Azure Files share holding your model exports, mounted read-only on the apps through the
// Container Apps environment's storage 'models' (docs/deploy.md, "Your own model").
//
// Why an account key: Container Apps mounts SMB shares with the storage account key only (no managed identity for
// volume mounts yet: github.com/microsoft/azure-container-apps/issues/1446). NFS shares need no key, but only from
// an environment in your own virtual network, and the upload would then need a machine inside it. So the share lives
// in its own account, apart from the app's data account (which keeps shared keys off), holding nothing but model
// weights, and the key goes from listKeys() straight into the environment storage's write-only accountKey here: never
// a parameter, an output or an app setting. People upload with Entra ID (az storage file ... --auth-mode login).

@description('Azure region.')
param location string

@description('Globally unique account name (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Name of the Container Apps environment that mounts the share.')
param environmentName string

@description('Standard (HDD, billed on what is stored) or Premium (SSD, billed on the provisioned size; faster reads, so a GPU replica loads the model sooner).')
@allowed([
  'Standard'
  'Premium'
])
param tier string = 'Standard'

@description('Share size in GiB: a cap on a standard share; the provisioned, billed size of a premium one (at least 100).')
@minValue(1)
@maxValue(5120)
param shareGiB int = 100

@description('Principal id of the person running azd, given write access to the share to upload models; empty for none.')
param userPrincipalId string = ''

@description('Type of userPrincipalId: User for a person, ServicePrincipal for a CI identity.')
@allowed([
  'User'
  'ServicePrincipal'
])
param userPrincipalType string = 'User'

param tags object = {}

var shareName = 'models'
var premium = tier == 'Premium'

// Storage File Data Privileged Contributor: read and write files over REST with Entra ID (the --auth-mode login
// uploads of az storage file and azcopy), no key needed.
var fileDataPrivilegedContributor = '69566ab7-960f-475b-8e7c-b3118f30c6bd'

resource account 'Microsoft.Storage/storageAccounts@2025-01-01' = {
  name: name
  location: location
  tags: tags
  kind: premium ? 'FileStorage' : 'StorageV2'
  sku: {
    name: premium ? 'Premium_LRS' : 'Standard_LRS'
  }
  properties: {
    // Only for the environment's SMB mount (see above); the portal and tools still default to Entra ID.
    allowSharedKeyAccess: true
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    // SMB 3 with encryption only.
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
  }
}

resource fileService 'Microsoft.Storage/storageAccounts/fileServices@2025-01-01' = {
  parent: account
  name: 'default'
}

resource share 'Microsoft.Storage/storageAccounts/fileServices/shares@2025-01-01' = {
  parent: fileService
  name: shareName
  properties: {
    enabledProtocols: 'SMB'
    shareQuota: premium ? max(shareGiB, 100) : shareGiB
  }
}

resource environment 'Microsoft.App/managedEnvironments@2025-07-01' existing = {
  name: environmentName
}

// ReadOnly: no replica can change the weights every other replica loads.
resource environmentStorage 'Microsoft.App/managedEnvironments/storages@2025-07-01' = {
  parent: environment
  name: shareName
  properties: {
    azureFile: {
      accountName: account.name
      accountKey: account.listKeys().keys[0].value
      shareName: share.name
      accessMode: 'ReadOnly'
    }
  }
}

resource userFileAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  scope: account
  name: guid(account.id, userPrincipalId, fileDataPrivilegedContributor)
  properties: {
    principalId: userPrincipalId
    principalType: userPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', fileDataPrivilegedContributor)
  }
}

// Names only.
output storageName string = environmentStorage.name
output accountName string = account.name
output shareName string = share.name
