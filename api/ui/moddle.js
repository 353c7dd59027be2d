// Moddle descriptors for the extension namespaces flyt reads, so bpmn-js keeps them on save.
// A namespace registered with bpmn-js drops any element or attribute its descriptor does not
// declare, so these are complete for what flyt's reader (engine/src/bpmn/read.rs, the
// createInstance configuration in hooks/src/create_instance/config.rs) and Altinn's own files
// use; the browser tests load every Altinn conformance file, save it unchanged and compare every
// extension element and attribute. Both Altinn generations have the same shape: the current
// namespace `http://altinn.no/process` (prefix `altinn`) and the older `http://altinn.no`
// (registered under the prefix `altinnv7`; a file's own prefix is kept on save).
(function () {
  'use strict';

  function text(name) {
    return { name: name, type: 'String' };
  }
  function texts(name) {
    return { name: name, type: 'String', isMany: true };
  }
  function child(name, type) {
    return { name: name, type: type };
  }
  function attr(name) {
    return { name: name, type: 'String', isAttr: true };
  }
  // A text element that may carry an `env` attribute (<altinn:disabled env="prod">true</...>).
  function envText(name) {
    return { name: name, properties: [attr('env'), { name: 'value', type: 'String', isBody: true }] };
  }

  function altinn(name, uri, prefix) {
    return {
      name: name,
      uri: uri,
      prefix: prefix,
      xml: { tagAlias: 'lowerCase' },
      associations: [],
      types: [
        {
          name: 'TaskExtension',
          superClass: ['Element'],
          properties: [
            text('taskType'),
            child('actions', 'Actions'),
            child('signatureConfig', 'SignatureConfig'),
            child('paymentConfig', 'PaymentConfig'),
            child('pdfConfig', 'PdfConfig'),
            child('subformPdfConfig', 'SubformPdfConfig'),
            child('eFormidlingConfig', 'EFormidlingConfig'),
            child('userControlledSigning', 'UserControlledSigning')
          ]
        },
        { name: 'Actions', properties: [{ name: 'action', type: 'Action', isMany: true }] },
        { name: 'Action', properties: [attr('id'), attr('type'), { name: 'value', type: 'String', isBody: true }] },
        {
          name: 'SignatureConfig',
          properties: [
            child('dataTypesToSign', 'DataTypesToSign'),
            text('signatureDataType'),
            child('uniqueFromSignaturesInDataTypes', 'UniqueFromSignaturesInDataTypes'),
            text('signeeStatesDataTypeId'),
            text('signeeProviderId'),
            text('signingPdfDataType'),
            { name: 'correspondenceResource', type: 'CorrespondenceResource', isMany: true },
            text('runDefaultValidator'),
            text('signingDelegationResource')
          ]
        },
        { name: 'DataTypesToSign', properties: [texts('dataType')] },
        { name: 'UniqueFromSignaturesInDataTypes', properties: [texts('dataType')] },
        envText('CorrespondenceResource'),
        { name: 'UserControlledSigning', properties: [text('enabled')] },
        { name: 'PaymentConfig', properties: [text('paymentDataType'), text('paymentReceiptPdfDataType')] },
        {
          name: 'PdfConfig',
          properties: [
            text('filenameTextResourceKey'),
            child('autoPdfTaskIds', 'AutoPdfTaskIds'),
            child('tasksToIncludeInPdf', 'TasksToIncludeInPdf')
          ]
        },
        { name: 'AutoPdfTaskIds', properties: [texts('taskId')] },
        { name: 'TasksToIncludeInPdf', properties: [texts('task')] },
        {
          name: 'SubformPdfConfig',
          properties: [text('filenameTextResourceKey'), text('subformComponentId'), text('subformDataTypeId')]
        },
        {
          name: 'EFormidlingConfig',
          properties: [
            { name: 'disabled', type: 'Disabled', isMany: true },
            { name: 'receiver', type: 'Receiver', isMany: true },
            text('process'),
            text('standard'),
            text('typeVersion'),
            text('type'),
            text('securityLevel'),
            text('dpfShipmentType'),
            child('dataTypes', 'DataTypes'),
            text('enabled')
          ]
        },
        envText('Disabled'),
        envText('Receiver'),
        { name: 'DataTypes', properties: [texts('dataType')] },
        {
          name: 'GatewayExtension',
          superClass: ['Element'],
          properties: [text('connectedDataTypeId')]
        }
      ],
      enumerations: []
    };
  }

  var current = altinn('Altinn', 'http://altinn.no/process', 'altinn');
  // The older attribute form, <bpmn:task altinn:tasktype="data">, declared once: moddle refuses
  // two packages adding a property of the same name to one type. An undeclared attribute is
  // kept on save anyway (moddle keeps unknown attributes, unlike unknown elements), so
  // `tasktype` in the older namespace survives too (the browser tests check both).
  current.types.unshift({ name: 'TaskTypeAttribute', isAbstract: true, extends: ['bpmn:Task'], properties: [attr('tasktype')] });

  var flyt = {
    name: 'Flyt',
    uri: 'urn:flyt:bpmn:1',
    prefix: 'flyt',
    xml: { tagAlias: 'lowerCase' },
    associations: [],
    types: [
      // <bpmn:serviceTask flyt:type="createInstance">: the handler of a service task.
      { name: 'TaskTypeAttribute', isAbstract: true, extends: ['bpmn:Task'], properties: [attr('type')] },
      {
        name: 'CreateInstance',
        superClass: ['Element'],
        properties: [
          attr('target'),
          child('owner', 'Owner'),
          { name: 'prefill', type: 'Prefill', isMany: true },
          { name: 'copy', type: 'Copy', isMany: true },
          { name: 'onError', type: 'OnError', isMany: true }
        ]
      },
      { name: 'Owner', properties: [attr('from'), attr('organisationNumber'), attr('path'), attr('dataType')] },
      { name: 'Prefill', properties: [attr('from'), attr('value'), attr('expression'), attr('to'), attr('dataType')] },
      { name: 'Copy', properties: [attr('dataType')] },
      // <flyt:onError status="404" errorCode="..."/>: a downstream's 4xx answer as a BPMN error.
      { name: 'OnError', properties: [attr('status'), attr('errorCode')] },
      // <flyt:sendMessage> on a send task or a message throw/end event (the message outbox).
      {
        name: 'SendMessage',
        superClass: ['Element'],
        properties: [
          attr('target'),
          attr('name'),
          attr('correlationKey'),
          attr('timeToLive'),
          { name: 'payload', type: 'Payload', isMany: true },
          { name: 'onError', type: 'OnError', isMany: true }
        ]
      },
      { name: 'Payload', properties: [attr('from'), attr('value'), attr('to'), attr('dataType')] },
      // <flyt:subscription correlationKey dataType/> on a bpmn:message or a message catch.
      { name: 'Subscription', superClass: ['Element'], properties: [attr('correlationKey'), attr('dataType')] },
      // <flyt:multiInstance collection elementVariable/> in a multiInstanceLoopCharacteristics'
      // extensionElements: what a multi-instance activity runs over.
      { name: 'MultiInstance', superClass: ['Element'], properties: [attr('collection'), attr('elementVariable')] },
      // <flyt:assignee person|organisation|role/> on a user task: who may act on it.
      { name: 'Assignee', superClass: ['Element'], properties: [attr('person'), attr('organisation'), attr('role')] },
      // On a call activity: <flyt:calledElement app version/> (another app, a pinned version)
      // and the data mappings <flyt:input source target/>, <flyt:output source target/>.
      { name: 'CalledElement', superClass: ['Element'], properties: [attr('app'), attr('version')] },
      { name: 'Input', superClass: ['Element'], properties: [attr('source'), attr('target')] },
      { name: 'Output', superClass: ['Element'], properties: [attr('source'), attr('target')] }
    ],
    enumerations: []
  };

  window.flytModdle = {
    altinn: current,
    altinnv7: altinn('AltinnV7', 'http://altinn.no', 'altinnv7'),
    flyt: flyt
  };
})();
