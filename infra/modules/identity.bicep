// The user-assigned identity both function apps run as: storage, registry pulls and the Durable Task Scheduler all
// trust this one identity, so no key or connection secret exists anywhere in the deployment.

@description('Azure region.')
param location string

@description('Name of the identity.')
param name string

param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
