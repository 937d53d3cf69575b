/*
 * Drives Eclipse Paho (loaded unchanged by mqtt.html, on the WebSocket
 * that Ferry.install() put in place) for mqtt_test.go. Go calls
 * Mqtt.connect(...), Mqtt.publish(...) and Mqtt.disconnect(), and polls
 * Mqtt.state(), which returns a JSON string.
 */
(function (root) {
  'use strict';

  var client = null;
  var st = {
    connected: false, subscribed: -1, error: '', lost: [], got: [], delivered: [],
    installed: root.WebSocket === root.Ferry.WebSocket
  };

  var Mqtt = {
    // connect connects to o.url as o.clientId and subscribes to o.filter
    // at QoS 2.
    connect: function (o) {
      client = new root.Paho.Client(o.url, o.clientId);
      client.onConnectionLost = function (r) {
        st.connected = false;
        st.lost.push(r.errorCode + ' ' + r.errorMessage);
      };
      client.onMessageArrived = function (m) {
        st.got.push({topic: m.destinationName, payload: m.payloadString, qos: m.qos});
      };
      client.onMessageDelivered = function (m) {
        st.delivered.push({topic: m.destinationName, payload: m.payloadString, qos: m.qos});
      };
      client.connect({
        mqttVersion: 4, cleanSession: true, keepAliveInterval: 60, timeout: 30,
        onSuccess: function () {
          st.connected = true;
          client.subscribe(o.filter, {
            qos: 2,
            onSuccess: function (r) {
              // grantedQos: one granted QoS per filter (a typed array)
              st.subscribed = typeof r.grantedQos === 'number' ? r.grantedQos : r.grantedQos[0];
            },
            onFailure: function (r) {
              st.error = 'subscribe: ' + r.errorCode + ' ' + r.errorMessage;
            }
          });
        },
        onFailure: function (r) {
          st.error = 'connect: ' + r.errorCode + ' ' + r.errorMessage;
        }
      });
    },

    publish: function (topic, payload, qos) {
      client.publish(topic, payload, qos, false);
    },

    disconnect: function () {
      client.disconnect();
    },

    state: function () {
      return JSON.stringify(st);
    }
  };

  root.Mqtt = Mqtt;
}(this));
