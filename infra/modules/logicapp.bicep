// An example Logic Apps (Consumption) workflow: receives a prompt list, POSTs it to /api/runs, polls the status URL
// while it answers 202, and acts on the finished run's manifest: a summary of images, savings and GPU cost, sent to
// an optional notification URL (a Teams or Slack incoming webhook, say).
//
// POST its trigger URL (portal: the workflow's "When a HTTP request is received") with
//   { "prompts": ["a red circle", "a blue square"], "options": { "target_savings": 0.5 } }
// or, with a tune.json from hierdiff tune uploaded to the tunes container, { "prompts": [...], "tune": "NAME" }

@description('Azure region.')
param location string

param name string

@description('Host name of the function app that serves /api/runs.')
param functionAppFqdn string

@secure()
@description('A function key of the app (default host key) for /api/runs.')
param functionKey string

@description('Where to POST the run summary; empty for nowhere (read it in the run history).')
param notifyUrl string = ''

param tags object = {}

resource workflow 'Microsoft.Logic/workflows@2019-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    state: 'Enabled'
    parameters: {
      functionKey: {
        value: functionKey
      }
      apiBase: {
        value: 'https://${functionAppFqdn}/api'
      }
      notifyUrl: {
        value: notifyUrl
      }
    }
    definition: {
      '$schema': 'https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#'
      contentVersion: '1.0.0.0'
      parameters: {
        functionKey: {
          type: 'SecureString'
        }
        apiBase: {
          type: 'String'
        }
        notifyUrl: {
          type: 'String'
          defaultValue: ''
        }
      }
      triggers: {
        manual: {
          type: 'Request'
          kind: 'Http'
          inputs: {
            schema: {
              type: 'object'
              properties: {
                prompts: {
                  type: 'array'
                  items: {
                    type: 'string'
                  }
                }
                options: {
                  type: 'object'
                }
                tune: {
                  type: 'string'
                }
              }
              required: [
                'prompts'
              ]
            }
          }
        }
      }
      actions: {
        // The app answers 202 with status_url; the loop below polls it (the action's own async polling is off so
        // that every poll carries the function key).
        Start_run: {
          type: 'Http'
          operationOptions: 'DisableAsyncPattern'
          inputs: {
            method: 'POST'
            uri: '@{parameters(\'apiBase\')}/runs'
            headers: {
              'x-functions-key': '@parameters(\'functionKey\')'
              'Content-Type': 'application/json'
            }
            body: {
              prompts: '@triggerBody()?[\'prompts\']'
              options: '@coalesce(triggerBody()?[\'options\'], json(\'{}\'))'
              tune: '@triggerBody()?[\'tune\']'
            }
          }
          runtimeConfiguration: {
            secureData: {
              properties: [
                'inputs'
              ]
            }
          }
        }
        Wait_for_run: {
          type: 'Until'
          runAfter: {
            Start_run: [
              'Succeeded'
            ]
          }
          expression: '@not(equals(outputs(\'Poll_status\')?[\'statusCode\'], 202))'
          limit: {
            count: 360
            timeout: 'PT6H'
          }
          actions: {
            Delay: {
              type: 'Wait'
              inputs: {
                interval: {
                  count: 10
                  unit: 'Second'
                }
              }
            }
            Poll_status: {
              type: 'Http'
              operationOptions: 'DisableAsyncPattern'
              runAfter: {
                Delay: [
                  'Succeeded'
                ]
              }
              inputs: {
                method: 'GET'
                uri: '@{body(\'Start_run\')?[\'status_url\']}'
                headers: {
                  'x-functions-key': '@parameters(\'functionKey\')'
                }
              }
              runtimeConfiguration: {
                secureData: {
                  properties: [
                    'inputs'
                  ]
                }
              }
            }
          }
        }
        // 200 with the manifest when the run succeeded; a status of failed otherwise.
        Succeeded: {
          type: 'If'
          runAfter: {
            Wait_for_run: [
              'Succeeded'
            ]
          }
          expression: {
            and: [
              {
                equals: [
                  '@outputs(\'Poll_status\')?[\'statusCode\']'
                  200
                ]
              }
              {
                not: {
                  equals: [
                    '@body(\'Poll_status\')?[\'gpu\']'
                    '@null'
                  ]
                }
              }
            ]
          }
          actions: {
            Summary: {
              type: 'Compose'
              inputs: {
                run: '@body(\'Start_run\')?[\'id\']'
                images: '@length(body(\'Poll_status\')?[\'images\'])'
                savings: '@body(\'Poll_status\')?[\'savings\']'
                gpu_seconds: '@body(\'Poll_status\')?[\'gpu\']?[\'activity_wall_seconds\']'
                cost: '@body(\'Poll_status\')?[\'gpu\']?[\'cost\']'
                standard_estimate_cost: '@body(\'Poll_status\')?[\'gpu\']?[\'standard_estimate_cost\']'
                images_prefix: '@concat(\'images/\', body(\'Start_run\')?[\'id\'], \'/\')'
              }
            }
            Notify: {
              type: 'If'
              runAfter: {
                Summary: [
                  'Succeeded'
                ]
              }
              expression: {
                not: {
                  equals: [
                    '@parameters(\'notifyUrl\')'
                    ''
                  ]
                }
              }
              actions: {
                Post_summary: {
                  type: 'Http'
                  inputs: {
                    method: 'POST'
                    uri: '@parameters(\'notifyUrl\')'
                    body: {
                      text: 'HierDiff run @{body(\'Start_run\')?[\'id\']}: @{outputs(\'Summary\')?[\'images\']} images, savings @{outputs(\'Summary\')?[\'savings\']}, GPU cost @{outputs(\'Summary\')?[\'cost\']}'
                      summary: '@outputs(\'Summary\')'
                    }
                  }
                }
              }
            }
          }
          else: {
            actions: {
              Run_failed: {
                type: 'Terminate'
                inputs: {
                  runStatus: 'Failed'
                  runError: {
                    code: 'RunFailed'
                    message: '@{body(\'Poll_status\')?[\'error\']}'
                  }
                }
              }
            }
          }
        }
      }
      outputs: {}
    }
  }
}

output name string = workflow.name
